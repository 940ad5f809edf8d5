#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the plugin's field tests (test_field.py), with run.sh's module
# loading and TAP numbering:
#
#	tools/vm-run.sh tests/vm/plugin/field-alone.sh
#
# Build what it needs first (as tools/run-tests.sh suite_vm does):
#	tools/inroot.sh make -C /src KDIR=/lib/modules/<root's version>/build modules
#	tools/inroot.sh make -C /src/userspace
#	tools/inroot.sh make -C /src/strongswan-plugin
#	tools/inroot.sh tools/linux-src.sh
# Topology B needs nft in the root (the nftables package).
QKD_TESTS=test_field.py exec bash "$(dirname "$0")/../run.sh"
