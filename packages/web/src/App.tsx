/** Routes of the UI. Without a token every path shows the sign-in form, and the requested page after signing in. */
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthProvider, useAuth } from './auth/AuthContext';
import { SignIn } from './auth/SignIn';
import { Layout } from './Layout';
import { ImagesPage } from './pages/images/ImagesPage';
import { ImageDetailPage } from './pages/image/ImageDetailPage';
import { SoftwarePage } from './pages/SoftwarePage';
import { VulnerabilitiesPage } from './pages/VulnerabilitiesPage';
import { VulnerabilityDetailPage } from './pages/VulnerabilityDetailPage';
import { ContainersPage } from './pages/ContainersPage';
import { SensorsPage } from './pages/SensorsPage';
import { NotFoundPage } from './pages/NotFoundPage';

export function App() {
  return (
    <AuthProvider>
      <BrowserRouter>
        <Gate />
      </BrowserRouter>
    </AuthProvider>
  );
}

function Gate() {
  const { token } = useAuth();
  if (token === null) return <SignIn />;
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<ToImages />} />
        <Route path="images" element={<ImagesPage />} />
        <Route path="images/:id" element={<ImageDetailPage />} />
        <Route path="images/:id/:tab" element={<ImageDetailPage />} />
        <Route path="software" element={<SoftwarePage />} />
        <Route path="vulnerabilities" element={<VulnerabilitiesPage />} />
        <Route path="vulnerabilities/:id" element={<VulnerabilityDetailPage />} />
        <Route path="containers" element={<ContainersPage />} />
        <Route path="sensors" element={<SensorsPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

/** `/` is the Images page; a search given to `/` is kept. */
function ToImages() {
  const { search } = useLocation();
  return <Navigate to={`/images${search}`} replace />;
}
