"""Runs qscope in a child process and measures that child alone: the memory tests of
tests/bigmodel/ share it (big_model_test.py, big_data_test.py)."""
import os
import sys


def run_child(qscope, script, work, tag):
    """Runs qscope --json -c script; returns (its output, its own peak RSS in bytes, from
    the rusage that wait4 returns for it alone). Output goes to WORK/TAG_out.txt and
    TAG_err.txt; a failing run ends the test with its stderr."""
    out_path = os.path.join(work, tag + "_out.txt")
    err_path = os.path.join(work, tag + "_err.txt")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        pid = os.posix_spawn(qscope, [qscope, "--json", "-c", script], os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
    _, status, ru = os.wait4(pid, 0)
    with open(out_path) as f:
        stdout = f.read()
    with open(err_path) as f:
        stderr = f.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("FAIL: qscope %r exited %d: %s" % (script, code, stderr[-2000:]))
    return stdout, ru.ru_maxrss * 1024
