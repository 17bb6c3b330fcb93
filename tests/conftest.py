import sys
from pathlib import Path

# module_utils import as ansible_collections.scanready.windows.plugins.module_utils.* (make collection)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".cache" / "collections"))
