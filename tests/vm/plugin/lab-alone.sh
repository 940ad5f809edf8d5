#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the QKD-network lab's VM test (tests/vm/test_lab.py), with run.sh's
# module loading and TAP numbering:
#
#	tools/vm-run.sh --timeout 900 --name lab tests/vm/plugin/lab-alone.sh
#
# (vm-run.sh gives each script a clean environment, hence this file.)
# Build what it needs first (tools/run-tests.sh's commands):
#	tools/inroot.sh make -C /src KDIR=/lib/modules/<root's kernel>/build modules
#	tools/inroot.sh make -C /src/userspace
#	tools/inroot.sh make -C /src/strongswan-plugin
QKD_TESTS=test_lab.py exec bash "$(dirname "$0")/../run.sh"
