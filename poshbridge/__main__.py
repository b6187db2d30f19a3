from poshbridge.cli.main import main

raise SystemExit(main())
