from topicserve.cli import main

raise SystemExit(main())
