#!/usr/bin/env python3
# Runs a command on a pty of its own, as a person's terminal would, and
# drives it by a script of steps (argv[1], JSON): {"wait": TEXT} reads until
# TEXT appears in what the command printed since the last wait; {"send": TEXT}
# types it; {"resize": [ROWS, COLS]} changes the window size (the command gets
# SIGWINCH); {"sleep": SECONDS} pauses. After the steps it reads to the end. It prints one line of JSON:
# {"output", "status", "failed"} ("failed": the step that timed out).
# The command is argv[2:]; the test (attach-stdin.test.ts) asserts on the result.
import fcntl, json, os, pty, select, struct, sys, termios, time

STEP_TIMEOUT = 20.0
END_TIMEOUT = 20.0


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    steps = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    set_size(master, 24, 80)
    out = b""
    seen = 0
    failed = None

    def read_some(deadline):
        nonlocal out
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([master], [], [], min(left, 0.2))
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return None
            if not chunk:
                return None
            out += chunk
        return True

    for step in steps:
        if "wait" in step:
            want = step["wait"].encode()
            deadline = time.monotonic() + STEP_TIMEOUT
            while want not in out[seen:]:
                r = read_some(deadline)
                if not r:
                    failed = step
                    break
            if failed:
                break
            seen = out.index(want, seen) + len(want)
        elif "send" in step:
            os.write(master, step["send"].encode())
        elif "sleep" in step:
            time.sleep(step["sleep"])
        elif "resize" in step:
            set_size(master, *step["resize"])
    deadline = time.monotonic() + END_TIMEOUT
    while read_some(deadline):
        pass
    status = None
    for _ in range(100):
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.1)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    print(json.dumps({"output": out.decode("utf8", "replace"), "status": status, "failed": failed}))


main()
