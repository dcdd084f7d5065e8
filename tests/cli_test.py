"""bench end to end, as a user runs it: exit codes, error messages, output
files, a peer killed mid-run, Ctrl-C, and nothing left behind.

Usage: /usr/bin/python3 tests/cli_test.py path/to/bench   (ctest runs it)
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BENCH = None
FOUR_TIERS = "--transport=ffi,unix,pipe,tcp"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARE_PY = "/usr/share/benchmark/compare.py"  # Debian's libbenchmark-tools


def our_peer_pids():
    """Pids of any running peer process of this project (any language)."""
    pids = set()
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"cpp_peer" in cmd or b"peers/python/peer.py" in cmd or b"peers/ruby/peer.rb" in cmd:
            pids.add(int(d.rsplit("/", 1)[1]))
    return pids


def children_of(pid):
    out = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d.rsplit("/", 1)[1]))
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for_child(p, needle, timeout=60):
    """Waits until bench (p) has a child whose command line holds needle."""
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        if any(needle in cmdline(c) for c in children_of(p.pid)):
            return True
        time.sleep(0.02)
    return False


def run_dirs_of(pid):
    tmp = os.environ.get("TMPDIR") or "/tmp"
    found = []
    for d in glob.glob(tmp + "/interop-spectrum-*"):
        try:
            with open(d + "/owner.pid") as f:
                if int(f.read().strip() or 0) == pid:
                    found.append(d)
        except (OSError, ValueError):
            pass
    return found


class BenchCli(unittest.TestCase):
    def setUp(self):
        self.before = our_peer_pids()
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-cli-test-")
        self.addCleanup(self.tmp.cleanup)

    def tearDown(self):
        time.sleep(0.1)
        self.assertEqual(our_peer_pids() - self.before, set(), "peer processes left behind")

    def bench(self, *args, timeout=300):
        return subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=timeout)

    def test_help(self):
        r = self.bench("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--transport", "--peer", "--workload", "--features", "--calls", "--duration",
                     "--warmup", "--repetitions", "--quick", "--out", "--list", "--pin"):
            self.assertIn(flag, r.stdout)

    def test_unknown_names_are_errors_listing_the_valid_ones(self):
        r = self.bench("--transport=unix,carrier-pigeon")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown transport 'carrier-pigeon'", r.stderr)
        self.assertIn("valid: all, ffi, shm, shm-spin, shm-futex, unix, pipe, tcp", r.stderr)
        r = self.bench("--peer=java")
        self.assertEqual(r.returncode, 2)
        self.assertIn("valid: all, cpp, python, ruby", r.stderr)
        r = self.bench("--workload=divide")
        self.assertEqual(r.returncode, 2)
        self.assertIn("valid: add, score", r.stderr)
        r = self.bench("--pin=left")
        self.assertEqual(r.returncode, 2)
        r = self.bench("--calls=10", "--duration=1")
        self.assertEqual(r.returncode, 2)

    def test_list(self):
        r = self.bench("--list")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [l for l in r.stdout.splitlines() if l.split()[-1:] == ["yes"] or " no: " in l]
        transports = [l for l in r.stdout.splitlines() if l.startswith("  ") and ": " in l]
        self.assertGreaterEqual(len(transports), 4)
        self.assertEqual(len(rows), 3 * len(transports), r.stdout)  # every transport x peer

    def check_results(self, out, workload, features):
        with open(os.path.join(out, "results.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["schema_version"], 7)
        env = doc["environment"]
        for key in ("cpu_model", "cores", "kernel", "compiler", "python", "ruby", "git_commit",
                    "command_line", "pinning", "timer_overhead_ns"):
            self.assertIn(key, env)
        rows = doc["rows"]
        self.assertEqual(len(rows), 12)
        self.assertEqual([r["transport"] for r in rows], ["ffi"] * 3 + ["unix"] * 3 + ["pipe"] * 3 + ["tcp"] * 3)
        self.assertEqual([r["peer"] for r in rows], ["cpp", "python", "ruby"] * 4)
        self.assertEqual(len({r["key"] for r in rows}), len(rows), "row keys must be unique")
        for r in rows:
            name = r["key"]
            self.assertEqual(r["role"], "row")
            self.assertEqual(r["caller"], "cpp")
            self.assertEqual(r["status"], "ok", name + ": " + r["reason"])
            self.assertEqual(r["errors"], 0, name)
            self.assertEqual(r["workload"], workload)
            self.assertEqual(r["features"], features)
            self.assertGreater(r["calls"], 0, name)
            self.assertTrue(0 < r["p50_ns"] <= r["p90_ns"] <= r["p99_ns"] <= r["p999_ns"] <= r["max_ns"], name)
            self.assertGreater(r["calls_per_s"], 0, name)
            self.assertIn(r["pin"], ("same", "split", "none", "-"))
            self.assertIsNotNone(r["cpu_ns_per_call"]["caller"], name)
            self.assertEqual(r["cpu_ns_per_call"]["peer"] is None, r["transport"] == "ffi", name)
        for name in ("results.md", "results.csv", "gbench.json"):
            self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
        with open(os.path.join(out, "gbench.json")) as f:
            self.assertGreaterEqual(len(json.load(f)["benchmarks"]), 12)
        self.assertTrue(glob.glob(os.path.join(out, "logs", "*.stderr.log")))

    def test_quick_run_of_the_first_four_tiers_with_all_peers(self):
        out = os.path.join(self.tmp.name, "add")
        r = self.bench(FOUR_TIERS, "--peer=all", "--quick", "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_results(out, "add", 0)
        # The console table has one line per row, in tier order.
        table = [l for l in r.stdout.splitlines() if l.startswith(("1-3 ", "4 ", "4/5 "))]
        self.assertEqual(len(table), 12, r.stdout)

    def test_quick_score_run(self):
        out = os.path.join(self.tmp.name, "score")
        r = self.bench(FOUR_TIERS, "--peer=all", "--quick", "--workload=score", "--features=256", "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_results(out, "score", 256)

    def test_rows_under_load_one_per_k_with_k_in_every_output(self):
        out = os.path.join(self.tmp.name, "inflight")
        r = self.bench("--transport=unix,ffi", "--peer=cpp", "--quick", "--inflight=8,1", "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(out, "results.json")) as f:
            rows = json.load(f)["rows"]
        self.assertEqual([(x["transport"], x["inflight"]) for x in rows],
                         [("ffi", 1), ("ffi", 8), ("unix", 1), ("unix", 8)])
        for x in rows:
            self.assertEqual(x["errors"], 0, x["key"])
            self.assertTrue(x["key"].endswith("/inflight:%d" % x["inflight"]), x["key"])
            self.assertEqual(x["throughput_inflight"], x["inflight"], x["key"])  # calls/s at the row's own K
            self.assertGreater(x["calls_per_s"], 0, x["key"])
            if x["inflight"] > 1:  # every call under load timed on its own (ffi's closed loop times batches)
                self.assertEqual(x["samples"], x["calls"], x["key"])
        # An in-process call cannot overlap another: ffi's K=8 row says so.
        self.assertIn("cannot keep calls in flight yet", rows[1]["note"])
        self.assertEqual(rows[3]["note"], "")
        header = next(l for l in r.stdout.splitlines() if l.startswith("tier"))
        self.assertIn(" K ", header)
        with open(os.path.join(out, "gbench.json")) as f:
            names = {b["name"] for b in json.load(f)["benchmarks"]}
        self.assertIn("unix/cpp>cpp/add/raw/inflight:8", names)
        with open(os.path.join(out, "results.csv")) as f:
            self.assertIn(",inflight,", f.readline())

    def test_batches_one_row_per_b_with_b_and_the_cost_per_call_in_every_output(self):
        out = os.path.join(self.tmp.name, "batch")
        r = self.bench("--transport=unix,ffi", "--peer=cpp,python", "--quick", "--batch=100,1", "--baseline",
                       "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(out, "results.json")) as f:
            rows = json.load(f)["rows"]
        self.assertEqual([(x["transport"], x["peer"], x["batch"], x["role"]) for x in rows],
                         [(t, p, b, role) for t in ("ffi", "unix") for p in ("cpp", "python") for b in (1, 100)
                          for role in ("row", "floor")])
        for x in rows:
            self.assertEqual(x["status"], "ok", x["key"] + ": " + x["reason"])
            self.assertEqual(x["errors"], 0, x["key"])
            self.assertIn("/batch:%d" % x["batch"], x["key"])
            self.assertAlmostEqual(x["per_item_ns"], x["p50_ns"] / x["batch"], places=6)
            if x["role"] == "row":
                self.assertAlmostEqual(x["items_per_s"], x["calls_per_s"] * x["batch"], delta=1e-6 * x["items_per_s"])
        header = next(l for l in r.stdout.splitlines() if l.startswith("tier"))
        self.assertIn(" B ", header)
        self.assertIn(" per call ", header)
        with open(os.path.join(out, "gbench.json")) as f:
            names = {b["name"] for b in json.load(f)["benchmarks"]}
        self.assertIn("unix/cpp>python/add/raw/batch:100", names)
        with open(os.path.join(out, "results.csv")) as f:
            self.assertIn(",batch,", f.readline())
        # A batch no selected transport can carry is a usage error before anything runs.
        r = self.bench("--transport=rest", "--peer=cpp", "--batch=100000", "--throughput=0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot cross rest", r.stderr)
        # The plot draws the cost per call against B.
        png = os.path.join(out, "batch.png")
        p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "plot"),
                            os.path.join(out, "results.json"), png], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreater(os.path.getsize(png), 10000)

    def test_codecs_and_payload_sizes_one_row_each_with_the_bytes_that_crossed(self):
        out = os.path.join(self.tmp.name, "codec")
        r = self.bench("--transport=unix,rest", "--peer=cpp,python", "--quick", "--workload=score",
                       "--features=256,16", "--codec=raw,json", "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # REST speaks JSON only: named once, not run, not an error.
        self.assertIn("not applicable (no such row): rest: json only, not raw", r.stdout)
        with open(os.path.join(out, "results.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["environment"]["not_applicable"], ["rest: json only, not raw"])
        rows = doc["rows"]
        self.assertEqual(sorted((x["transport"], x["peer"], x["codec"], x["features"]) for x in rows),
                         sorted([("unix", p, c, f) for p in ("cpp", "python") for c in ("raw", "json")
                                 for f in (16, 256)] + [("rest", p, "json", f) for p in ("cpp", "python")
                                                        for f in (16, 256)]))
        by = {}
        for x in rows:
            self.assertEqual(x["status"], "ok", x["key"] + ": " + x["reason"])
            self.assertEqual(x["errors"], 0, x["key"])
            self.assertIn("/score:%d/%s" % (x["features"], x["codec"]), x["key"])
            self.assertGreater(x["request_bytes"], 0, x["key"])
            self.assertGreater(x["reply_bytes"], 0, x["key"])
            self.assertTrue(x["bytes_counted"], x["key"])
            by[(x["transport"], x["peer"], x["codec"], x["features"])] = x
        for p in ("cpp", "python"):
            # A raw score frame carries each feature as one 8-byte double.
            self.assertEqual(by[("unix", p, "raw", 256)]["request_bytes"] - by[("unix", p, "raw", 16)]["request_bytes"],
                             240 * 8)
            # Doubles written as JSON text take more room than their 8 bytes.
            self.assertGreater(by[("unix", p, "json", 256)]["request_bytes"],
                               by[("unix", p, "raw", 256)]["request_bytes"])
            # HTTP headers ride on every REST call.
            self.assertGreater(by[("rest", p, "json", 16)]["request_bytes"],
                               by[("unix", p, "json", 16)]["request_bytes"])
        header = next(l for l in r.stdout.splitlines() if l.startswith("tier"))
        self.assertIn(" req bytes ", header)
        self.assertIn(" rep bytes ", header)
        with open(os.path.join(out, "results.csv")) as f:
            self.assertIn(",request_bytes,reply_bytes,", f.readline())
        with open(os.path.join(out, "gbench.json")) as f:
            names = {b["name"] for b in json.load(f)["benchmarks"]}
        self.assertIn("unix/cpp>python/score:256/json", names)
        # The plot picks the payload chart for several sizes; the codec chart is asked for.
        for chart in ("payload", "codec"):
            png = os.path.join(out, chart + ".png")
            p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "plot"), "--chart=" + chart,
                                os.path.join(out, "results.json"), png], capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertGreater(os.path.getsize(png), 10000)

    def run_with_floors(self, out):
        r = self.bench("--transport=ffi,unix,shm-spin", "--peer=cpp,python", "--quick", "--repetitions=3",
                       "--baseline", "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(out, "results.json")) as f:
            rows = json.load(f)["rows"]
        with open(os.path.join(out, "gbench.json")) as f:
            benchmarks = json.load(f)["benchmarks"]
        return r.stdout, rows, benchmarks

    def test_floors_run_with_their_rows_and_gbench_json_tells_the_same_per_call_time(self):
        out = os.path.join(self.tmp.name, "floors")
        stdout, rows, benchmarks = self.run_with_floors(out)
        self.assertEqual([r["role"] for r in rows], ["row", "floor"] * 6)
        for row, floor in zip(rows[::2], rows[1::2]):
            self.assertEqual(floor["key"], row["key"] + "/floor")
            self.assertGreater(row["floor_ratio"], 0, row["key"])
            self.assertAlmostEqual(row["floor_ratio"], row["p50_ns"] / floor["p50_ns"], places=6)
            self.assertIsNone(floor["floor_ratio"])
        # The console shows every ratio, and each floor the table marks as
        # above its row says why.
        for line in stdout.splitlines():
            if " row " in line and line.startswith(("1-3 ", "4 ")):
                self.assertRegex(line, r"\d\.\d\dx")
        for floor in rows[1::2]:
            above = floor["p50_low_ns"] > next(r for r in rows if r["key"] + "/floor" == floor["key"])["p50_high_ns"]
            self.assertEqual(floor["above_row_cause"] is not None, above, floor["key"])
        # gbench.json: one iteration run per repetition, named by the row's key,
        # with the very per-call numbers of results.json.
        iterations = [b for b in benchmarks if b["run_type"] == "iteration"]
        for r in rows:
            mine = [b for b in iterations if b["name"] == r["key"]]
            self.assertEqual(len(mine), 3, r["key"])
            self.assertEqual(sum(b["iterations"] for b in mine), r["calls"], r["key"])
            mean = sum(b["real_time"] * b["iterations"] for b in mine) / r["calls"]
            self.assertLess(abs(mean / r["mean_ns"] - 1), 0.01, r["key"])
            for b, rep in zip(mine, r["repetitions"]):
                self.assertLess(abs(b["real_time"] / rep["mean_ns"] - 1), 0.01, r["key"])
                self.assertEqual(b["time_unit"], "ns")

    def test_debian_compare_py_reads_two_runs_and_names_every_row(self):
        self.assertTrue(os.path.exists(COMPARE_PY), "scripts/bootstrap installs libbenchmark-tools")
        runs = []
        for name in ("a", "b"):
            out = os.path.join(self.tmp.name, name)
            runs.append((out, self.run_with_floors(out)[1]))
        r = subprocess.run(["/usr/bin/python3", COMPARE_PY, "--no-color", "benchmarks",
                            os.path.join(runs[0][0], "gbench.json"), os.path.join(runs[1][0], "gbench.json")],
                           capture_output=True, text=True, timeout=120, cwd=os.path.dirname(COMPARE_PY))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        named = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}
        for row in runs[0][1]:
            self.assertIn(row["key"], named)
            self.assertIn(row["key"] + "_pvalue", named)  # its U test over the repetitions

    def test_peer_killed_mid_run_fails_its_row_only(self):
        out = os.path.join(self.tmp.name, "killed")
        p = subprocess.Popen([BENCH, "--transport=unix", "--peer=cpp,python", "--duration=3",
                              "--repetitions=1", "--warmup=0.1", "--throughput=0.1", "--out=" + out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed = False
        deadline = time.time() + 30
        while not killed and time.time() < deadline and p.poll() is None:
            for child in children_of(p.pid):
                if comm(child) == "cpp_peer":
                    time.sleep(0.5)  # let it get into the timed run
                    os.kill(child, signal.SIGKILL)
                    killed = True
            time.sleep(0.05)
        stdout, stderr = p.communicate(timeout=120)
        self.assertTrue(killed, "never saw the C++ peer")
        self.assertEqual(p.returncode, 1, stdout + stderr)
        with open(os.path.join(out, "results.json")) as f:
            rows = {r["peer"]: r for r in json.load(f)["rows"]}
        self.assertEqual(rows["cpp"]["status"], "failed")
        self.assertIn("killed by signal 9", rows["cpp"]["reason"])
        self.assertEqual(rows["python"]["status"], "ok", rows["python"]["reason"])
        self.assertIn("FAILED", stdout)
        self.assertEqual(run_dirs_of(p.pid), [])

    def test_ctrl_c_stops_everything_and_cleans_up(self):
        p = subprocess.Popen([BENCH, "--transport=tcp", "--peer=ruby", "--duration=20", "--warmup=0.1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline and not [c for c in children_of(p.pid) if comm(c) == "ruby"]:
            time.sleep(0.05)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, stdout + stderr)
        self.assertIn("interrupted", stderr)
        self.assertEqual(run_dirs_of(p.pid), [])

    def test_ctrl_c_ends_a_shared_memory_row_without_waiting_out_the_timeout(self):
        # A wait on shared memory has no socket to break: the watchdog must
        # notice the interrupt itself, not after --timeout (60 s here).
        p = subprocess.Popen([BENCH, "--transport=shm-futex", "--peer=python", "--duration=30",
                              "--warmup=0.1", "--timeout=60"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while time.time() < deadline and not [c for c in children_of(p.pid) if comm(c).startswith("python")]:
            time.sleep(0.05)
        time.sleep(1.0)
        started = time.time()
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=90)
        self.assertEqual(p.returncode, 130, stdout + stderr)
        self.assertLess(time.time() - started, 20, "Ctrl-C waited out the call timeout")
        self.assertEqual(run_dirs_of(p.pid), [])
        self.assertFalse(glob.glob("/dev/shm/interop-spectrum-%d-*" % p.pid))

    def interrupt_mid_row(self, args, cut_transport, signals, exit_code):
        """Runs bench, and once the cut_transport row's peer is up and timing,
        sends the signals (2 ms apart). Returns (results dir, seconds from
        the first signal to exit, bench's pid, stdout + stderr)."""
        out = os.path.join(self.tmp.name, "cut")
        p = subprocess.Popen([BENCH, *args, "--repetitions=1", "--warmup=0.1", "--throughput=0.1", "--out=" + out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(wait_for_child(p, "--transport=" + cut_transport + " "), "the %s row never started" % cut_transport)
        time.sleep(0.7)  # into the timed calls
        # Peers, and a broker if the row has one: all must be gone afterwards.
        self.children_at_signal = {c: comm(c) for c in children_of(p.pid)}
        started = time.time()
        for i, sig in enumerate(signals):
            if i:
                time.sleep(0.002)  # the second lands while bench is stopping
            p.send_signal(sig)
        stdout, stderr = p.communicate(timeout=60)
        took = time.time() - started
        self.assertEqual(p.returncode, exit_code, stdout + stderr)
        return out, took, p.pid, stdout + stderr

    def assert_cut_short(self, out, took, pid, output, kept, cut, not_run, signal_name):
        self.assertLess(took, 2.0, "bench took %.2f s to stop after the signal" % took)
        self.assertIn("INTERRUPTED by " + signal_name, output)
        with open(os.path.join(out, "results.json")) as f:
            doc = json.load(f)
        self.assertIs(doc["interrupted"], True)
        self.assertEqual(doc["interrupted_by"], signal_name)
        status = {r["key"]: r["status"] for r in doc["rows"]}
        for key in kept:
            self.assertEqual(status.get(key), "ok", doc["rows"])
        self.assertEqual(status.get(cut), "interrupted", doc["rows"])
        self.assertEqual(sorted(doc["not_run"]), sorted(not_run))
        with open(os.path.join(out, "gbench.json")) as f:
            gbench = json.load(f)
        self.assertIs(gbench["interrupted"], True)
        self.assertIs(gbench["context"]["interrupted"], True)
        self.assertEqual(sorted({b["run_name"] for b in gbench["benchmarks"]}), sorted(kept))
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
        self.assertTrue(md.startswith("**INTERRUPTED by " + signal_name), md[:200])
        with open(os.path.join(out, "results.csv")) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines[0].endswith(",run"))
        self.assertTrue(all(l.endswith(",interrupted") for l in lines[1:]), lines)
        self.assertTrue(any(cut in l and ",interrupted," in l for l in lines[1:]), lines)
        self.assertEqual(run_dirs_of(pid), [], "the run's private dir was left behind")
        alive = [name for c, name in self.children_at_signal.items() if comm(c)]
        self.assertEqual(alive, [], "outlived bench")
        self.assertFalse(glob.glob("/dev/shm/interop-spectrum-%d-*" % pid), "a shared-memory segment was left behind")
        # compare: the cut row and the rows never run are not measured, not regressions.
        r = self.bench("compare", os.path.join(out, "results.json"), os.path.join(out, "results.json"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_one_ctrl_c_keeps_the_finished_rows_and_marks_the_cut_one(self):
        out, took, pid, output = self.interrupt_mid_row(
            ["--transport=unix,tcp,rest", "--peer=cpp", "--duration=3"], "tcp", [signal.SIGINT], 130)
        self.assert_cut_short(out, took, pid, output, kept=["unix/cpp>cpp/add/raw"], cut="tcp/cpp>cpp/add/raw",
                              not_run=["rest/cpp>cpp/add/json"], signal_name="SIGINT")

    def test_two_ctrl_c_lose_nothing_either(self):
        # A user pressing Ctrl-C twice, or GNU timeout forwarding the signal.
        out, took, pid, output = self.interrupt_mid_row(
            ["--transport=unix,tcp,rest", "--peer=cpp", "--duration=3"], "tcp", [signal.SIGINT, signal.SIGINT], 130)
        self.assert_cut_short(out, took, pid, output, kept=["unix/cpp>cpp/add/raw"], cut="tcp/cpp>cpp/add/raw",
                              not_run=["rest/cpp>cpp/add/json"], signal_name="SIGINT")

    def test_sigterm_in_a_redis_row_takes_the_broker_and_the_segment_along(self):
        out, took, pid, output = self.interrupt_mid_row(
            ["--transport=shm-futex,redis,file-poll", "--peer=python", "--duration=3"], "redis",
            [signal.SIGTERM, signal.SIGTERM], 143)
        self.assert_cut_short(out, took, pid, output, kept=["shm-futex/cpp>python/add/raw"],
                              cut="redis/cpp>python/add/json", not_run=["file-poll/cpp>python/add/json"],
                              signal_name="SIGTERM")
        self.assertIn("redis-server", self.children_at_signal.values())  # it was there, and is gone

    def watch_peer_starts(self, p):
        """Polls bench's children until it exits: the C++ peers it started,
        as (pid, transport) in the order they appeared."""
        seen = []
        while p.poll() is None:
            for c in children_of(p.pid):
                cmd = cmdline(c)
                if "cpp_peer" in cmd and c not in [pid for pid, _ in seen]:
                    seen.append((c, re.search(r"--transport=(\S+)", cmd).group(1)))
            time.sleep(0.005)
        return seen

    def test_repetitions_are_interleaved_across_rows_in_fresh_process_pairs(self):
        out = os.path.join(self.tmp.name, "passes")
        p = subprocess.Popen([BENCH, "--transport=unix,pipe", "--peer=cpp", "--repetitions=3", "--duration=0.3",
                              "--warmup=0.05", "--throughput=0.05", "--out=" + out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = self.watch_peer_starts(p)
        stdout, stderr = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, stdout + stderr)
        # A fresh peer per repetition, pass by pass: unix, pipe, unix, pipe, ...
        self.assertEqual([t for _, t in seen], ["unix", "pipe"] * 3, seen)
        self.assertEqual(len({pid for pid, _ in seen}), 6)
        with open(os.path.join(out, "results.json")) as f:
            doc = json.load(f)
        self.assertIn("fresh process pair", doc["environment"]["interleaving"])
        for r in doc["rows"]:
            self.assertEqual(len(r["repetitions"]), 3, r["key"])
            self.assertGreater(r["calls_per_s"], 0, r["key"])  # the last pass's throughput run
            self.assertIsNotNone(r["p50_mad"], r["key"])
        self.assertNotIn("elapsed", stderr)  # not a terminal: no progress

    def test_an_interrupt_in_a_later_pass_keeps_every_finished_repetition(self):
        out = os.path.join(self.tmp.name, "cut-pass")
        p = subprocess.Popen([BENCH, "--transport=unix,pipe", "--peer=cpp", "--repetitions=3", "--duration=2",
                              "--warmup=0.05", "--out=" + out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        starts = []
        deadline = time.time() + 60
        while time.time() < deadline and len(starts) < 3:  # the third peer: unix's second pass
            starts += [c for c in children_of(p.pid) if "cpp_peer" in cmdline(c) and c not in starts]
            time.sleep(0.005)
        self.assertEqual(len(starts), 3, "never got to the second pass")
        time.sleep(0.5)  # into its timed calls (2 s of them)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, stdout + stderr)
        self.assertIn("2 row(s) finished and kept (2 with only some of their repetitions)", stdout)
        with open(os.path.join(out, "results.json")) as f:
            doc = json.load(f)
        self.assertIs(doc["interrupted"], True)
        self.assertEqual(doc["not_run"], [])
        rows = {r["key"]: r for r in doc["rows"]}
        for key in ("unix/cpp>cpp/add/raw", "pipe/cpp>cpp/add/raw"):
            self.assertEqual(rows[key]["status"], "ok", rows[key])
            self.assertEqual(len(rows[key]["repetitions"]), 1, key)  # pass 1 kept; unix's cut pass 2 not
            self.assertIn("1 of 3 repetitions: the run was interrupted, before the throughput run", rows[key]["note"])
            self.assertEqual(rows[key]["calls_per_s"], 0, key)
        self.assertEqual(run_dirs_of(p.pid), [])

    def run_on_a_terminal(self, args, env):
        """bench with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
        import pty
        master, slave = pty.openpty()
        p = subprocess.Popen([BENCH, *args], stdout=subprocess.DEVNULL, stderr=slave, env=env)
        os.close(slave)
        got = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            got += chunk
        os.close(master)
        return p.wait(timeout=60), got.decode(errors="replace")

    def test_progress_on_a_terminal_and_silence_in_ci(self):
        args = ["--transport=unix,pipe", "--peer=cpp", "--repetitions=2", "--duration=0.2", "--warmup=0.02",
                "--throughput=0.05"]
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        code, tty = self.run_on_a_terminal(args, env)
        self.assertEqual(code, 0, tty)
        for needle in ("rows 0/2 done", "pass 1/2  unix/cpp>cpp/add/raw", "pass 2/2  pipe/cpp>cpp/add/raw",
                       "elapsed 0:0", "left ~", "rows as they finish"):
            self.assertIn(needle, tty)
        # Each row's line as it finishes: unix's before pipe's last pass began.
        unix_line = re.search(r"\n  unix/cpp>cpp/add/raw +p50 ", tty)
        self.assertIsNotNone(unix_line, tty)
        self.assertLess(unix_line.start(), tty.rindex("pass 2/2  pipe/cpp>cpp/add/raw"))
        code, quiet = self.run_on_a_terminal(args, dict(env, CI="true"))
        self.assertEqual(code, 0, quiet)
        self.assertNotIn("elapsed", quiet)
        self.assertNotIn("rows as they finish", quiet)

    def test_compare_writes_markdown_for_a_pull_request(self):
        out = os.path.join(self.tmp.name, "md")
        r = self.bench("--transport=unix", "--peer=cpp", "--repetitions=4", "--duration=0.05", "--warmup=0.02",
                       "--throughput=0", "--normalize", "--out=" + out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        results = os.path.join(out, "results.json")
        r = self.bench("compare", "--format=md", results, results)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("| row | base p50 | new p50 | judged on | ratio | allowed | p | verdict |"),
                        r.stdout)
        self.assertIn("| `unix/cpp>cpp/add/raw` |", r.stdout)
        self.assertIn("| p50/floor | 1.00x | 1.15x | 1.000 | same |", r.stdout)  # both ran with --normalize
        self.assertIn("| reference |", r.stdout)
        r = self.bench("compare", "--format=html", results, results)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        r = self.bench("compare", "--format=md", "--raw", results, results)  # each row by its own p50
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("| `unix/cpp>cpp/add/raw` |", r.stdout)
        self.assertNotIn("p50/floor", r.stdout)
        r = self.bench("compare", "--raw", "--normalize", results, results)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_every_refused_option_exits_2_naming_the_option(self):
        cases = [
            (["--duration=-1"], "--duration=-1 is out of range"),
            (["--duration=0"], "--duration=0 is out of range"),
            (["--timeout=0"], "--timeout=0 is out of range"),
            (["--timeout=-5"], "--timeout=-5 is out of range"),
            (["--ready-timeout=0"], "--ready-timeout=0 is out of range"),
            (["--warmup=-1"], "--warmup=-1 is out of range"),
            (["--throughput=-1"], "--throughput=-1 is out of range"),
            (["--workload=score", "--features=-1"], "'-1' is not a count of features from 1 to 131072"),
            (["--workload=score", "--features=131073"], "'131073' is not a count of features from 1 to 131072"),
            (["--workload=score", "--features=16,16"], "--features=16,16 names 16 twice"),
            (["--features=8"], "--features has no effect here"),
            (["--calls=0"], "--calls=0 is out of range"),
            (["--calls=-3"], "--calls=-3 is out of range"),
            (["--repetitions=0"], "--repetitions=0 is out of range: 1 to 1000"),
            (["--inflight=0"], "'0' is not a count of calls in flight from 1 to 1024"),
            (["--inflight=8,8"], "--inflight=8,8 names 8 twice"),
            (["--throughput=0.2", "--inflight=8"], "--throughput has no effect with --inflight"),
            (["--normalize", "--inflight=8"], "--inflight cannot be combined with --normalize yet"),
            (["--transport=unix,unix"], "--transport selects unix twice"),
            (["--peer=cpp,python,cpp"], "--peer selects cpp twice"),
            (["--transport=shm-spin", "--pin=same"], "--pin=same puts caller and peer on one core"),
            (["--transport=rest", "--codec=raw"], "--codec=raw: no selected transport carries it (rest)"),
            (["--transport=rest", "--codec=json,protobuf"], "--codec=protobuf: no selected transport carries it"),
            (["--codec=raw,raw"], "--codec=raw,raw names raw twice"),
            (["--codec=xml"], "unknown --codec 'xml'; valid: raw, json, protobuf"),
            (["--transport=unix", "--shm-wait=spin"], "--shm-wait has no effect here"),
            (["--transport=unix", "--redis=unix:///tmp/x.sock"], "--redis has no effect here"),
            (["--duration=abc"], "--duration"),
            (["--ci", "--quick"], "--ci and --quick are two presets"),
            (["--transport=unix", "--peer-fault=delay=0"], "unknown --peer-fault 'delay=0'"),
            (["--transport=ffi", "--peer=cpp", "--peer-fault=delay=100"], "--peer-fault has no effect here"),
        ]
        for args, message in cases:
            r = self.bench(*args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertIn(message, r.stderr, args)
            self.assertEqual(r.stdout, "", args)  # refused before anything ran

    def test_harness_killed_outright_takes_its_peers_along(self):
        p = subprocess.Popen([BENCH, "--transport=pipe", "--peer=python", "--duration=20", "--warmup=0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        peers = []
        while time.time() < deadline and not peers:
            peers = [c for c in children_of(p.pid) if comm(c).startswith("python")]
            time.sleep(0.05)
        self.assertTrue(peers, "never saw the Python peer")
        p.kill()  # SIGKILL: no handler runs, only PR_SET_PDEATHSIG can save us
        p.wait(timeout=10)
        deadline = time.time() + 5
        while time.time() < deadline and any(os.path.exists("/proc/%d" % c) for c in peers):
            time.sleep(0.05)
        self.assertFalse([c for c in peers if os.path.exists("/proc/%d/cmdline" % c) and comm(c)],
                         "peer outlived a SIGKILLed harness")
        # Its private dir is still there; the next run removes it.
        stale = run_dirs_of(p.pid)
        self.assertEqual(len(stale), 1)
        r = self.bench("--transport=ffi", "--peer=cpp", "--quick")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("left by earlier runs", r.stderr)
        self.assertFalse(os.path.exists(stale[0]))


if __name__ == "__main__":
    BENCH = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
