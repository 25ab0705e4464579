import os
import sys

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp/wgtorch-xdg")
os.makedirs(os.environ["XDG_RUNTIME_DIR"], exist_ok=True)
sys.path.insert(0, os.path.dirname(__file__))
