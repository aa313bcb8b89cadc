/** The document title of a page (React 19 hoists <title> into <head>; the text is rendered as text). */
export function PageTitle({ title }: { title: string }) {
  return <title>{`${title} · Tally`}</title>;
}
