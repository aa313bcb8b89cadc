/** The frame of every page: a skip link, the site navigation, sign-out, and the page in <main>. */
import { NavLink, Outlet } from 'react-router';
import { useAuth } from './auth/AuthContext';

const NAV = [
  { to: '/images', label: 'Images' },
  { to: '/software', label: 'Software' },
  { to: '/vulnerabilities', label: 'Vulnerabilities' },
  { to: '/containers', label: 'Containers' },
  { to: '/sensors', label: 'Sensors' },
] as const;

export function Layout() {
  const { signOut } = useAuth();
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="site-header">
        <span className="brand">Tally</span>
        <nav aria-label="Sections" className="site-nav">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <NavLink to={n.to} className={({ isActive }) => (isActive ? 'is-active' : undefined)}>
                  {n.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" className="button sign-out" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
