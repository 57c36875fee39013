"""The package's structure, read from its source with `ast` (nothing is imported).

Every error class derives from errors.InstanceSegmentationError, so the CLI and the node
report any of them in one clause.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'instance_segmentation_ros'


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name below it ('model', 'cli.common')."""
    return {'.'.join(path.relative_to(PACKAGE).with_suffix('').parts): ast.parse(
        path.read_text(), str(path)) for path in sorted(PACKAGE.rglob('*.py'))}


def test_every_error_class_derives_from_the_package_base():
    bases = {node.name: [base.id for base in node.bases if isinstance(base, ast.Name)]
             for tree in modules().values() for node in ast.walk(tree)
             if isinstance(node, ast.ClassDef) and node.name.endswith('Error')}

    def from_base(name: str) -> bool:
        return name == 'InstanceSegmentationError' or any(
            base in bases and from_base(base) for base in bases[name])

    assert len(bases) > 10
    assert [name for name in bases if not from_base(name)] == []
