from hazardloop.cli import main

main()
