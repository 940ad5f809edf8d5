# SPDX-License-Identifier: GPL-2.0
#
# qkd-ipsec: the qkdpool kernel module, built like any out-of-tree module,
# and the project's checks.
#
#   make                    build the module against KDIR
#   make modules_install    install it (into /lib/modules/<KDIR's version>/updates)
#   make clean
#   make check              (as root) everything: host packages, the trixie
#                           build root, spec, W=1 build, checkpatch, sparse,
#                           userspace tests, VM tests, KUnit and the module's
#                           VM tests on the debug kernel
#   make spec build style sparse kunit userspace kme-sim monitoring plugin vmtest debugvm
#                           one suite of `make check` (with its set-up)
#   make debugvm            (as root) every VM test of tests/vm/DEBUGK_TESTS on the
#                           debug kernel (KASAN, UBSAN, lockdep, kmemleak,
#                           failslab), also the slow ones make check leaves out
#   make fuzz               (as root) the spec-driven fuzzer on the debug kernel,
#                           FUZZ_SECONDS (default 300) or FUZZ_MESSAGES
#   make bench              (as root) build, run bench/ in the VM, print the
#                           table of Documentation/bench.rst
#   make bench-network      (as root) the trusted-node relay at scale: 18
#                           routers' qkd-linkd in a ring relaying keys to a
#                           core, fill, per-hop consumption, a cut and the
#                           reroute (bench/relay_ring_bench.py, bench.rst)
#   make demo               (as root) build, boot the two-router lab with a
#                           QKD network in the VM: QKD link cut and restored,
#                           live view, summary (Documentation/lab.rst)
#   make demo-network       (as root) the trusted-node network: four routers,
#                           IPsec between neighbours and end to end over
#                           relayed keys, a QKD link cut and restored; RING=1
#                           reroutes around it (Documentation/relay.rst)
#   make deb                the Debian packages, built in the root and checked
#                           with lintian, into build/deb/SUITE/ (packaging.rst)
#   make regen              regenerate the uapi header and netlink policies
#                           from Documentation/netlink/specs/qkd.yaml
#
# KDIR defaults to the running kernel's build directory, so a trixie router
# with linux-headers-amd64 builds natively; `make check` builds in the root.

ifneq ($(KERNELRELEASE),)
# kbuild reads Kbuild, not this file; getting here means Kbuild is missing.
$(error Kbuild is missing: the module's objects are listed there)
endif

KDIR ?= /lib/modules/$(shell uname -r)/build
KBUILD_ARGS := -C $(KDIR) M=$(CURDIR) CONFIG_QKDPOOL=m

all: modules

modules modules_install:
	$(MAKE) $(KBUILD_ARGS) $@

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) $(KBUILD_ARGS) clean; \
	else find . -path ./build -prune -o \( -name '*.o' -o -name '*.ko' -o \
		-name '*.mod' -o -name '*.mod.c' -o -name '.*.cmd' -o \
		-name '*.a' \) -type f -print0 | xargs -0r rm -f; \
		rm -f Module.symvers modules.order; fi
	rm -rf build

check:
	tools/run-tests.sh

spec build style sparse kunit userspace kme-sim monitoring plugin:
	tools/run-tests.sh $@

debugvm:
	QKD_DEBUGVM=full tools/run-tests.sh debugvm

fuzz:
	tools/fuzz.sh

vmtest:
	tools/run-tests.sh vm

bench:
	tools/bench.sh

bench-network:
	tools/bench.sh --network

demo:
	tools/demo/demo.sh

# the trusted-node network (Documentation/relay.rst); RING=1: the ring
demo-network:
	tools/demo/demo.sh --network $(if $(RING),--ring)

deb:
	tools/deb.sh

regen:
	tools/ynl-regen.sh

.PHONY: all modules modules_install clean check spec build style sparse \
	kunit userspace kme-sim monitoring plugin debugvm fuzz vmtest deb bench \
	bench-network demo demo-network regen
