"""``python -m sk_imbaloss compare ...``: the same as the ``sk-imbaloss`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
