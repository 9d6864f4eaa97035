import sys

from costtune.cli import main

sys.exit(main())
