/**
 * Why a container of this image lists fewer vulnerabilities than the image: containers carry only the image's
 * OS-package detections (SCA runs on images, not on running containers). The counts are asked of the server so the
 * note states the actual numbers.
 */
import { Link } from 'react-router';
import { apiUrl, seg } from '../../api/client';
import type { ImageDetail, Page, VulnerabilityItem } from '../../api/types';
import { useApi } from '../../api/useApi';
import { plural } from '../../lib/format';
import { quoted } from '../../lib/links';

export function ContainerNote({ image }: { image: ImageDetail }) {
  const os = useApi<Page<VulnerabilityItem>>(apiUrl(`/api/v1/images/${seg(image.imageId)}/vulnerabilities`, { q: 'class:os', limit: 1 }));
  const osCount = os.current ? os.data?.total : undefined;
  const total = image.vulnerabilities.total;
  return (
    <aside className="note" aria-label="About containers of this image">
      <h3>Why a container of this image shows fewer vulnerabilities</h3>
      <p>
        A running container is reported by a General sensor, which inventories the container, not the application
        dependencies inside it. So a container lists only the detections in this image&apos;s OS packages (scan types
        Static and Dynamic)
        {osCount !== undefined && (
          <>
            {' '}
            — <strong>{plural(osCount, 'vulnerability', 'vulnerabilities')}</strong> here
          </>
        )}
        . The detections in language packages found by the SCA scan of the image
        {osCount !== undefined && (
          <>
            {' '}
            (<strong>{Math.max(0, total - osCount)}</strong> of the {total})
          </>
        )}{' '}
        are shown on the image only.{' '}
        {image.containers > 0 && (
          <Link to={apiUrl('/containers', { q: `imageId:${quoted(image.imageId)}` })}>See its {plural(image.containers, 'container')}.</Link>
        )}
      </p>
    </aside>
  );
}
