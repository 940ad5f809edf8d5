/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef QKD_PLUGIN_TESTS_H_
#define QKD_PLUGIN_TESTS_H_

#include <check.h>

Suite *proto_suite(void);
Suite *exchange_suite(void);
Suite *combo_suite(void);
Suite *mlkem_suite(void);
Suite *mlkem_ke_suite(void);
Suite *fallbacks_suite(void);
Suite *peers_suite(void);
Suite *ke_id_suite(void);

#endif
