"""The domain: releases, deployments and their rules. Standard library only; no clock, no I/O."""
