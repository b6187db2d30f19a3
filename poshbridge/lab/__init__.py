"""The lab: a Windows/IIS host twin on loopback. Never imports the client side of poshbridge."""
