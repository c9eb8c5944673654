// `tcr run --help`: run has two forms with different flags, and a help that
// listed them as one would offer --keep to `run IMAGE` and --rm to a bundle.
// docker's flags (the form people type) come first, then runc's, each under
// its own heading (the groups are in src/cli/shapes.ts), and then the rule
// that tells the forms apart (src/cli/run-form.ts).

export const RUN_USAGE =
  "[flags] IMAGE [COMMAND...]          (docker's run)\n       tcr run [--bundle DIR] [runc flags] ID     (runc's run)";

export const RUN_RULE = `
Which form a run is (runc's only when nothing says "image"):
  --bundle/-b, or a runc-only flag       runc's run of that bundle
  a docker-only flag, a COMMAND, or
  no config.json in this directory       docker's run of IMAGE
  NAME:TAG, REGISTRY/NAME, NAME@DIGEST,
  or a name of an image in the store     docker's run of IMAGE
  otherwise (a plain ID, config.json
  here)                                  runc's run of ./config.json as ID
`;
