"""The README's variables table is the one the roles' argument specs produce."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_variables_table_matches_the_argument_specs() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "gen_variables_table.py"), "--check",
                           str(REPO / "README.md")], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
