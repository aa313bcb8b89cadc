/**
 * Tabs after the WAI-ARIA pattern: one tab stop for the tab list (roving tabindex), Left/Right/Home/End move and
 * select (each tab is a URL, so selecting navigates and the tab can be bookmarked), the panel is labelled by its tab.
 */
import { useRef, type KeyboardEvent, type ReactNode } from 'react';
import { Link, useNavigate } from 'react-router';

export interface TabSpec {
  readonly id: string;
  readonly label: ReactNode;
  readonly href: string;
}

export interface TabsProps {
  readonly label: string;
  readonly tabs: readonly TabSpec[];
  readonly selected: string;
  readonly children: ReactNode;
}

export function Tabs({ label, tabs, selected, children }: TabsProps) {
  const navigate = useNavigate();
  const listRef = useRef<HTMLDivElement>(null);
  const index = Math.max(0, tabs.findIndex((t) => t.id === selected));

  const select = (i: number) => {
    const n = tabs.length;
    const target = tabs[((i % n) + n) % n];
    if (target === undefined) return;
    void navigate(target.href);
    // Focus follows the selection; the element exists already (the tab list does not re-mount).
    listRef.current?.querySelector<HTMLElement>(`#tab-${target.id}`)?.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    // Move from the focused tab, not from the rendered selection: keys pressed faster than React re-renders (End
    // then Home then ArrowLeft) must each start where the previous one left the focus.
    const focused = tabs.findIndex((t) => e.target instanceof HTMLElement && e.target.id === `tab-${t.id}`);
    const from = focused >= 0 ? focused : index;
    const keys: Record<string, number> = { ArrowRight: from + 1, ArrowLeft: from - 1, Home: 0, End: tabs.length - 1 };
    const next = keys[e.key];
    if (next === undefined) return;
    e.preventDefault();
    select(next);
  };

  return (
    <div className="tabs">
      <div role="tablist" aria-label={label} className="tab-list" ref={listRef} onKeyDown={onKeyDown}>
        {tabs.map((t) => {
          const on = t.id === selected;
          return (
            <Link
              key={t.id}
              id={`tab-${t.id}`}
              role="tab"
              to={t.href}
              aria-selected={on}
              aria-controls={`panel-${t.id}`}
              tabIndex={on ? 0 : -1}
              className={`tab${on ? ' is-selected' : ''}`}
            >
              {t.label}
            </Link>
          );
        })}
      </div>
      <div role="tabpanel" id={`panel-${selected}`} aria-labelledby={`tab-${selected}`} className="tab-panel" tabIndex={0}>
        {children}
      </div>
    </div>
  );
}
