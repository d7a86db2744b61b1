import sys

from dfpengine.cli import main

sys.exit(main())
