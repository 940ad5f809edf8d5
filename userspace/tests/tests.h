/* SPDX-License-Identifier: GPL-2.0 */
#ifndef QKD_TESTS_H
#define QKD_TESTS_H

#include <check.h>

Suite *msg_suite(void);
Suite *statefile_suite(void);
Suite *parse_suite(void);
Suite *format_suite(void);
Suite *args_suite(void);
Suite *tag_suite(void);
Suite *linkd_config_suite(void);
Suite *kme_json_suite(void);
Suite *peer_proto_suite(void);
Suite *linkd_policy_suite(void);
Suite *linkd_status_suite(void);
Suite *secmem_suite(void);
Suite *linkd_async_suite(void);
Suite *linkd_recon_suite(void);
Suite *relay_crypto_suite(void);
Suite *relay_frame_suite(void);
Suite *route_suite(void);
Suite *relay_config_suite(void);
Suite *relay_hop_suite(void);
Suite *linkd_daemon_suite(void);
Suite *relay_node_suite(void);
Suite *relay_status_suite(void);

#endif
