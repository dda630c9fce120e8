"""``luna keys``: this install's CURVE key and the keys admitted to the tcp bus.
"""

from __future__ import annotations

import argparse
import sys


def cmd_keys(args: argparse.Namespace) -> int:
    """``luna keys [show|add NAME KEY|revoke NAME]``: this install's CURVE key and the admitted ones."""
    from shared import curve

    try:
        if args.action == "add":
            if not args.name or not args.key:
                print("usage: luna keys add NAME PUBLIC_KEY", file=sys.stderr)
                return 2
            print(f"admitted {args.name}: {curve.add(args.name, args.key)}")
            return 0
        if args.action == "revoke":
            if not args.name:
                print("usage: luna keys revoke NAME", file=sys.stderr)
                return 2
            if not curve.revoke(args.name):
                print(f"no admitted key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.name} (new connections with it are refused)")
            return 0
        pub = curve.public_key().decode()
        print(f"this install: {pub}  ({curve.keys_dir()})")
        for name, key in curve.authorized().items():
            if name != curve.NAME:
                print(f"admitted     {key.decode()}  {name}")
        return 0
    except curve.KeyError_ as err:
        print(f"luna keys: {err}", file=sys.stderr)
        return 2
