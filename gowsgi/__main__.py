"""python -m gowsgi ARGS... runs gowsgi ARGS... (the installed binary
replaces this Python process)."""
import os
import sys

from gowsgi import executable

exe = executable()
os.execv(exe, [exe, *sys.argv[1:]])
