from kedge.cli.main import main

raise SystemExit(main())
