#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the two-versions VM test (trixie's charon 6.0.1 and forky's 6.1.0),
# with run.sh's module loading and TAP numbering:
#
#	tools/vm-run.sh tests/vm/plugin/versions-alone.sh
#
# (vm-run.sh gives each script a clean environment, hence this file.)
#
# Part of `make check` (tests/vm/run.sh runs it with the other files).
# Build what it needs first:
#	tools/inroot.sh make -C /src/userspace
#	tools/inroot.sh make -C /src/strongswan-plugin
#	QKD_SUITE=forky tools/inroot.sh make -C /src/strongswan-plugin
QKD_TESTS=test_versions.py exec bash "$(dirname "$0")/../run.sh"
