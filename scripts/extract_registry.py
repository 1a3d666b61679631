"""Write the block registry, the Blockly toolbox and the MicroPython API registry as JSON.

    python scripts/extract_registry.py --out build/registry     # blocks.json, toolbox.json, micropython_api.json
    python scripts/extract_registry.py --list                   # one line per block, for reading

Everything is extracted from blocks/*.json, firmware/robot.py and the installed
micropython-esp32-stubs (see robolm/registry.py); nothing here is written by hand.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from robolm import registry  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="folder for blocks.json, toolbox.json, micropython_api.json")
    ap.add_argument("--list", action="store_true", help="print one line per block")
    args = ap.parse_args(argv)
    try:
        reg = registry.block_registry()
    except registry.RegistryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.list:
        for e in reg:
            ranges = ", ".join(f"{n}:{p['type']}{p['range'] or p.get('choices', '')}" for n, p in e["parameters"].items())
            print(f"{e['category']:<14} {e['function']:<58} -> {e['returns']:<5} {ranges}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "blocks.json").write_text(json.dumps(reg, indent=1, ensure_ascii=False) + "\n")
        (args.out / "toolbox.json").write_text(json.dumps(registry.toolbox(), indent=1) + "\n")
        api = registry.build_micropython_api()
        (args.out / "micropython_api.json").write_text(json.dumps(api) + "\n")
        print(f"wrote {len(reg)} blocks and {registry.api_summary(api)} to {args.out}")
    if not args.list and not args.out:
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
