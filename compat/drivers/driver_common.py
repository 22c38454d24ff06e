"""What every Python driver shares: its failure type, waiting for a condition, and the one-op
protocol (one op as JSON on stdin, one JSON result line on stdout; see compat/ops.ts)."""
import json
import sys
import time


class Failure(Exception):
    pass


def until(check, timeout, what, poll=None, poll_waits=False):
    """Calls poll (if any) until check() holds; sleeps between rounds unless poll itself waits."""
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise Failure('timed out after %ss: %s' % (timeout, what))
        if poll:
            poll()
        if not (poll and poll_waits):
            time.sleep(0.05)


def serve(ops, describe):
    """Runs the op read from stdin; every client error becomes the op's answer."""
    req = json.loads(sys.stdin.read())
    op = req['op']
    try:
        f = ops.get(op['op'])
        if f is None:
            raise Failure('op %s not implemented by this driver' % op['op'])
        out = {'ok': True, **(f(op, req) or {})}
    except Exception as e:
        out = {'ok': False, 'error': describe(e)}
    sys.stdout.write('\n' + json.dumps(out) + '\n')
    sys.stdout.flush()
