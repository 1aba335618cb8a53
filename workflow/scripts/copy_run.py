"""The tuned rule's script: the search's winning run copied to tuned/ (each named input to the output of the
same name, folders whole), each written atomically."""

import shutil
import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import atomic_dir, atomic_path


def main(rule) -> None:
    for name, source in rule.input.items():
        target = Path(rule.output[name])
        if Path(source).is_dir():
            with atomic_dir(target) as tmp:
                shutil.copytree(source, tmp, dirs_exist_ok=True)
        else:
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
    print(f"copied {Path(rule.input.adapter).parent} to {Path(rule.output.adapter).parent}", file=sys.stderr)


if __name__ == "__main__":
    cli.run_rule(main)
