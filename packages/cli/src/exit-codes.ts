/** Exit statuses, documented in docs/cli.md. Distinct so a pipeline can tell a failed policy from a broken scan. */
export const EXIT = {
  ok: 0,
  /** The policy gate (--fail-on) found findings. */
  policy: 1,
  /** Bad usage, an unreadable target or image, a failed upload: the scan did not produce a trustworthy result. */
  error: 2,
} as const;
