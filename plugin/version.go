package main

// version is the filter's version, logged in its start line so an operator
// can tell which build a proxy runs. build.sh stamps it with
// -ldflags "-X main.version=$(git describe --tags --always --dirty)";
// a plain go build leaves "dev".
var version = "dev"
