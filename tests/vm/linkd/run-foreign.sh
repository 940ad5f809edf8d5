#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only qkd-linkd's foreign-KME test, with run.sh's module loading and TAP
# numbering:
#
#	tools/vm-run.sh tests/vm/linkd/run-foreign.sh
#
# Part of `make check` (tests/vm/run.sh runs it with the other files).
# Build what it needs first:
#	tools/inroot.sh make -C /src KDIR=/lib/modules/<root's kernel>/build modules
#	tools/inroot.sh make -C /src/userspace
QKD_TESTS=test_linkd_foreign.py exec bash "$(dirname "$0")/../run.sh"
