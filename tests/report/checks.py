"""The report tests' bookkeeping: each check counts, a failed one is printed and remembered."""

FAILS = []
PASSES = [0]


def check(cond, what):
    if cond:
        PASSES[0] += 1
    else:
        FAILS.append(what)
        print("FAIL: " + what)
    return cond


def verdict():
    """Prints the totals; the exit status for main()."""
    print("%d checks passed, %d failed" % (PASSES[0], len(FAILS)))
    return 1 if FAILS else 0
