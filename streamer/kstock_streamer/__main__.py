import sys

from kstock_streamer.main import main

sys.exit(main())
