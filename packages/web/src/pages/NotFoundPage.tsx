import { Link } from 'react-router';
import { PageTitle } from '../components/PageTitle';

export function NotFoundPage() {
  return (
    <section className="page">
      <PageTitle title="Not found" />
      <h1>Page not found</h1>
      <p>
        There is no page at this address. <Link to="/images">Go to Images</Link>.
      </p>
    </section>
  );
}
