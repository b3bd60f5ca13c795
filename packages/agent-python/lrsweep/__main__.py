"""``python -m lrsweep export …``: the exports (export.py). The TypeScript CLI's ``lrsweep export``
calls this, so the two command lines do not compete for the ``lrsweep`` name."""

import sys


def _main(argv):
    if not argv or argv[0] != "export":
        print("usage: python -m lrsweep export tensorboard SWEEP_ID --out DIR", file=sys.stderr)
        return 2
    from .export import main  # noqa: WPS433

    return main(argv[1:])


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
