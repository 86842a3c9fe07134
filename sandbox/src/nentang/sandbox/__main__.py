from nentang.sandbox.cli import main

main()
