from nentang.kernel.cli.main import main

main()
