#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test aggregator behind `make check`: sets up the host and the trixie
# build root, runs the suites in order (going on after a failed one), and
# prints a table and, as its very last line, "N passed, N failed" (with
# ", N skipped" when some were).  Exit status 0 only when nothing failed.
#
# Usage: tools/run-tests.sh [SUITE...]     (default: all, in this order)
#
# Suites:
#   spec       the uapi header and policies match the YAML spec (ynl-regen --check)
#   build      the module builds with W=1 and no warning
#   style      checkpatch --strict on kmod/ (generated files excluded);
#              pyflakes on every Python file
#   sparse     sparse (C=2) on the module, no warning
#   kunit      tools/kunit.sh: the module's KUnit suites on the debug kernel
#              in the VM (KASAN, UBSAN, lockdep, kmemleak), from a test
#              module; tools/kunit.sh --uml runs them under UML instead
#   userspace  make -C userspace check, inside the build root
#   kme-sim    the KME simulator's tests
#   monitoring the Prometheus rules (promtool check rules, promtool test
#              rules) and systemd-analyze verify on the shipped units
#   plugin     make -C strongswan-plugin check in the trixie root AND in the
#              forky root (QKD_SUITE=forky): each root's build, unit tests
#              and charon smoke test; the counts are the sum of both
#   deb        tools/deb.sh: the Debian packages built in the trixie and the
#              forky root, lintian clean (two results per root)
#   vm         tests/vm/run.sh (TAP) in the VM, through tools/vm-run.sh
#              (the forky root shared at /forky for tests/vm/test_versions.py):
#              the files of tests/vm/TESTS but those that tests/vm/DEBUGK_TESTS
#              moves to the debug kernel ("check")
#   debugvm    the module's VM tests on the debug kernel (tools/debug-kernel.sh:
#              KASAN, UBSAN, lockdep, kmemleak, DEBUG_OBJECTS, failslab), the
#              files of tests/vm/DEBUGK_TESTS marked "check" or "both" (the
#              ynl tests, qkdctl, unload/reload, netns, mem_limit, fault
#              injection, a short fuzz run), then lockdep and kmemleak
#              checked; any report fails.  QKD_DEBUGVM=full (make debugvm)
#              runs every file of that list: also the 100,000-key run and
#              one lab run (charon + qkd-linkd)
#
# The debug kernel (kunit, debugvm) is built in the background from the end
# of setup on (tools/debug-kernel.sh, cached in the root; cold, about 12
# minutes of both cores at nice 19): kunit waits for it.
#
# Convention: every suite leaves build/results/SUITE.counts holding one line
# "PASSED FAILED SKIPPED" and exits non-zero when something failed.  A suite
# that exits non-zero without counting a failure, or writes no counts, counts
# as one failure.  Each suite's output is also in build/results/SUITE.log.
# Environment: QKD_VM_TIMEOUT (seconds for the VM suite, default 1800),
# QKD_TESTS (the vm suite runs only these files of tests/vm/TESTS, e.g.
# QKD_TESTS="test_lab.py test_field.py"; the debugvm suite likewise),
# QKD_DEBUGVM_TIMEOUT (the debugvm suite's VM, default 1500), QKD_DEBUGVM
# (check, the default, or full), FUZZ_SECONDS (its fuzz run, default 30).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
results=$repo/build/results
# kunit and debugvm last: they wait for the debug kernel's build
all_suites="spec build style sparse userspace kme-sim monitoring plugin deb vm kunit debugvm"
# suites that run only when named (none at the moment)
extra_suites=""

say() { echo "run-tests: $*" >&2; }

# The module's build directory inside the root: the root's own kernel (not
# the host's: uname -r in a chroot names the host kernel).
root_kdir() {
	local kver
	kver=$(ls "$QKD_ROOT/lib/modules" | sort -V | tail -n 1)
	echo "/lib/modules/$kver/build"
}

counts() { echo "$1 $2 $3" >"$results/$suite.counts"; }

# A one-test suite: passes when the command succeeds.
one_test() {
	if "$@"; then counts 1 0 0; else counts 0 1 0; return 1; fi
}

# A make run inside the root that must print no warning (and no error).
make_clean_log() {
	local what=$1 log=$results/$suite.make.log
	shift
	tools/inroot.sh make "$@" 2>&1 | tee "$log"
	local status=${PIPESTATUS[0]}
	if [ "$status" -ne 0 ]; then
		say "$what failed (exit $status)"
		return 1
	fi
	if grep -qE '(warning|error):' "$log"; then
		say "$what printed warnings:"
		grep -E '(warning|error):' "$log" >&2
		return 1
	fi
}

suite_spec() {
	one_test tools/ynl-regen.sh --check
}

suite_build() {
	one_test make_clean_log "the W=1 build" -C /src KDIR="$(root_kdir)" W=1 modules
}

suite_style() {
	local files=()
	for f in kmod/*.c kmod/*.h; do
		[ -e "$f" ] || continue
		case ${f##*/} in netlink-gen.* | *.mod.c) continue ;; esac
		files+=("/src/$f")
	done
	if [ ${#files[@]} -eq 0 ]; then
		say "no sources in kmod/"
		counts 0 1 0
		return 1
	fi
	# checkpatch also reads kmod/.checkpatch.conf-style options from
	# /src/.checkpatch.conf: the place for a justified --ignore.
	local p=0 f=0
	if tools/inroot.sh /bin/bash -c '
		ksrc=$(/src/tools/linux-src.sh)
		exec perl "$ksrc/scripts/checkpatch.pl" --strict --no-tree \
			--codespell --codespellfile /usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt \
			--show-types -f "$@"' checkpatch "${files[@]}"; then
		p=$((p + 1))
	else
		f=$((f + 1))
	fi
	# The Python of the tests, the harness, the benches, the demo and the
	# tools: pyflakes (undefined and unused names, a harness refactor's
	# usual slips), on the host (tools/host-deps.sh installs it).
	if git ls-files -z '*.py' | xargs -0 pyflakes3; then
		p=$((p + 1))
	else
		f=$((f + 1))
	fi
	counts "$p" "$f" 0
	[ "$f" -eq 0 ]
}

suite_sparse() {
	one_test make_clean_log "sparse" -C /src KDIR="$(root_kdir)" C=2 CHECK=sparse modules
}

# The background build started after setup (start_debugk_build): wait for
# its end, print its log; fails when it failed (the suite then counts one
# failure rather than build again in the foreground).
wait_debugk() {
	local t=$SECONDS
	[ -n "${debugk_rc:-}" ] || return 0
	while [ ! -s "$debugk_rc" ]; do sleep 5; done
	cat "$results/debugk-build.log"
	say "the background build of the debug kernel: exit $(cat "$debugk_rc")" \
		"(waited $((SECONDS - t)) s for it)"
	[ "$(cat "$debugk_rc")" = 0 ]
}

suite_kunit() {
	wait_debugk || return 1
	tools/kunit.sh
}

suite_userspace() {
	tools/inroot.sh make -C /src/userspace check
}

suite_kme-sim() {
	tools/kme-sim/run-tests.sh
}

suite_monitoring() {
	tools/inroot.sh tools/monitoring-check.sh
}

# Both roots, one after the other: each writes its own counts; a root
# whose run failed without counting a failure, or wrote no counts, counts
# one failure.
suite_plugin() {
	local r p f s rc tp=0 tf=0 ts=0
	for r in trixie forky; do
		say "--- plugin in the $r root"
		rm -f "$results/plugin-$r.counts"
		QKD_SUITE=$r tools/inroot.sh make -C /src/strongswan-plugin check
		rc=$?
		if ! read -r p f s <"$results/plugin-$r.counts" 2>/dev/null; then
			say "the $r root's plugin check wrote no counts"
			p=0 f=1 s=0
		elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
		fi
		tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
	done
	counts "$tp" "$tf" "$ts"
	[ "$tf" -eq 0 ]
}

suite_deb() {
	local out
	out=$(tools/deb.sh trixie forky 2>&1)
	local rc=$?
	echo "$out"
	counts "$(grep -c '^deb: PASS ' <<<"$out")" "$(grep -c '^deb: FAIL ' <<<"$out")" 0
	return $rc
}

# Count TAP lines: "ok N - x", "not ok N - x", "ok N - x # SKIP why".
# A plan "1..N" with fewer results counts the missing ones as failed.
tap_counts() {
	awk '
		/^ok / && /# *[Ss][Kk][Ii][Pp]/ { s++; next }
		/^ok / { p++; next }
		/^not ok / && /# *TODO/ { next }
		/^not ok / { f++; next }
		/^1\.\.[0-9]+/ { split($1, a, "\\.\\."); plan = a[2] }
		END {
			if (plan > p + f + s) f += plan - (p + f + s)
			printf "%d %d %d\n", p, f, s
		}' "$1"
}

suite_vm() {
	local script=tests/vm/run.sh
	# The VM runs what the root built: the module, the userspace tools
	# (qkdctl, qkd-linkd), the strongSwan plugin, the trixie packages
	# (test_packages.py installs them) and ynl from Debian's kernel source,
	# so that `make vmtest` alone works on a fresh clone.
	tools/build.sh module userspace plugin debs ynl || return 1
	# test_versions.py runs forky's charon with the plugins of the forky
	# root; in `make check` the forky root must be there (vm-run.sh would
	# boot without it and the test would only skip).
	local forky=0
	if ! tools/build.sh forky-root plugin-forky; then
		say "no forky root or plugin: tests/vm/test_versions.py cannot run"
		forky=1
	fi
	local env=()
	[ -z "${QKD_TESTS:-}" ] || env=(--env "QKD_TESTS=$QKD_TESTS")
	# without QKD_TESTS: TESTS but the files moved to the debug kernel
	local tests
	tests=$(awk 'NR == FNR { if ($2 == "check") moved[$1] = 1; next }
		!/^#/ && NF && !($1 in moved) { print $1 }' \
		tests/vm/DEBUGK_TESTS tests/vm/TESTS | xargs)
	[ -n "${QKD_TESTS:-}" ] || env=(--env "QKD_TESTS=$tests")
	tools/vm-run.sh --name vm --timeout "${QKD_VM_TIMEOUT:-1800}" "${env[@]}" "$script"
	local status=$?
	local c
	c=$(tap_counts build/vm/vm.out)
	read -r p f s <<<"$c"
	f=$((f + forky))
	if [ $((p + f + s)) -eq 0 ]; then
		say "$script printed no TAP result"
		f=1
	elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		# A timeout, a crash or a kernel warning is a failure too.
		f=1
	fi
	counts "$p" "$f" "$s"
	[ "$status" -eq 0 ] && [ "$f" -eq 0 ]
}

# The VM tests on the debug kernel (tests/vm/DEBUGK_TESTS): its build
# (cached in the root), the module built against it, then one VM run.
suite_debugvm() {
	local t=$SECONDS tests
	wait_debugk || return 1
	case ${QKD_DEBUGVM:-check} in
	check) tests=$(awk '!/^#/ && ($2 == "check" || $2 == "both") { print $1 }' \
		tests/vm/DEBUGK_TESTS | xargs) ;;
	full) tests=$(awk '!/^#/ && NF { print $1 }' tests/vm/DEBUGK_TESTS | xargs) ;;
	*) say "QKD_DEBUGVM=${QKD_DEBUGVM}: check or full"; return 1 ;;
	esac
	tools/debug-kernel.sh >/dev/null || return 1
	say "debug kernel and module ready after $((SECONDS - t)) s"
	tools/build.sh userspace plugin ynl || return 1
	QKD_VM_FORKY=0 tools/vm-run.sh --debug-kernel --name debugvm \
		--timeout "${QKD_DEBUGVM_TIMEOUT:-1500}" \
		--env "QKD_TESTS=${QKD_TESTS:-$tests}" \
		--env "FUZZ_SECONDS=${FUZZ_SECONDS:-30}" --env QKD_LAB_SLOW=4 tests/vm/run.sh
	local status=$?
	read -r p f s <<<"$(tap_counts build/vm/debugvm.out)"
	if [ $((p + f + s)) -eq 0 ]; then
		say "tests/vm/run.sh printed no TAP result"
		f=1
	elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	counts "$p" "$f" "$s"
	[ "$status" -eq 0 ] && [ "$f" -eq 0 ]
}

# Setup: the host's packages and the build root.  Its failure ends the run.
setup() {
	if [ "$(id -u)" -ne 0 ]; then
		say "run as root (it installs packages, makes a chroot and mounts)"
		return 1
	fi
	tools/build.sh root || return 1
	# The forky root (the plugin's second strongSwan): its absence fails
	# the plugin and vm suites, not the whole run.
	local t=$SECONDS
	if tools/build.sh forky-root; then
		say "forky root ready after $((SECONDS - t)) s"
	else
		say "no forky root: the plugin and vm suites will count failures"
	fi
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || read -r -a suites <<<"$all_suites"
for suite in "${suites[@]}"; do
	case " $all_suites $extra_suites " in
	*" $suite "*) ;;
	*) say "unknown suite $suite (suites: $all_suites $extra_suites)"; exit 2 ;;
	esac
done

mkdir -p "$results"
rows=()
total_p=0 total_f=0 total_s=0
add_row() {
	rows+=("$(printf '%-10s %6s %6s %7s %7ss  %s' "$@")")
}

# The debug kernel (suites kunit and debugvm) is built in the background
# from the end of setup on: at nice 19, it takes only the CPU the other
# suites leave idle, above all the core the VM suite's qemu does not use; a
# cold build alone costs about 12 minutes of both cores.  Its cache and
# kernel tree are its own (the UML tree of tools/kunit.sh --uml is not
# used).  suite_kunit and suite_debugvm wait for it.
debugk_rc=
start_debugk_build() {
	case " ${suites[*]} " in *" kunit "* | *" debugvm "*) ;; *) return 0 ;; esac
	debugk_rc=$results/debugk-build.rc
	rm -f "$debugk_rc"
	say "building the debug kernel in the background (log: $results/debugk-build.log)"
	( nice -n 19 tools/debug-kernel.sh >"$results/debugk-build.log" 2>&1
	  echo $? >"$debugk_rc" ) &
}

t0=$SECONDS
suite=setup
if ! setup 2>&1 | tee "$results/setup.log"; then
	say "setup failed; see $results/setup.log"
	add_row setup 0 1 0 $((SECONDS - t0)) FAIL
	total_f=1
	suites=()
fi
# setup ran in a pipeline (a subshell): take the root again, now cached.
[ ${#suites[@]} -eq 0 ] || { QKD_ROOT=$(tools/mkroot.sh) && export QKD_ROOT; }
[ ${#suites[@]} -eq 0 ] || say "setup done in $((SECONDS - t0)) s; root $QKD_ROOT"

[ ${#suites[@]} -eq 0 ] || start_debugk_build
for suite in "${suites[@]}"; do
	say "=== $suite ==="
	rm -f "$results/$suite.counts"
	start=$SECONDS
	"suite_$suite" 2>&1 | tee "$results/$suite.log"
	status=${PIPESTATUS[0]}
	p=0 f=0 s=0
	if [ -f "$results/$suite.counts" ] &&
		read -r p f s <"$results/$suite.counts" &&
		[[ "$p $f $s" =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
		if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
			say "$suite exited with $status but counted no failure: 1 failed"
			f=1
		fi
	else
		say "$suite wrote no valid $results/$suite.counts (exit $status): 1 failed"
		p=0 f=1 s=0
	fi
	verdict=PASS
	[ "$f" -eq 0 ] || verdict=FAIL
	add_row "$suite" "$p" "$f" "$s" $((SECONDS - start)) "$verdict"
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
done

echo
printf '%-10s %6s %6s %7s %8s  %s\n' suite passed failed skipped time result
for r in "${rows[@]}"; do echo "$r"; done
echo "total time $((SECONDS - t0)) s; logs in build/results/ and build/vm/"
line="$total_p passed, $total_f failed"
[ "$total_s" -eq 0 ] || line="$line, $total_s skipped"
echo "$line"
[ "$total_f" -eq 0 ]
