"""The command line (`lmr`) and what it prints."""
