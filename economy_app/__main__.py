import sys

from economy_app.cli import main

sys.exit(main())
