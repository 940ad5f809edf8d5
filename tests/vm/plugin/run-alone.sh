#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the plugin's VM test, with run.sh's module loading and TAP numbering:
#
#	tools/vm-run.sh tests/vm/plugin/run-alone.sh
#
# (vm-run.sh gives each script a clean environment, hence this file.)
#
# Part of `make check` (tests/vm/run.sh runs it with the other files).
# Build what it needs first:
#	tools/inroot.sh make -C /src/userspace
#	tools/inroot.sh make -C /src/strongswan-plugin
QKD_TESTS=test_plugin.py exec bash "$(dirname "$0")/../run.sh"
