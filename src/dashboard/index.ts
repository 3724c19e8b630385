/**
 * The dashboard of `rekey serve` (docs/dashboard.md): the data (./model.ts, from policy, report and
 * governance), the page (./page.ts, ./chart.ts, ./style.ts) and its routes (./serve.ts).
 */
export {
  buildDashboard,
  type Dashboard,
  type DashboardRequest,
  type DashboardRotation,
  type DashboardRotations,
  type DashboardSecret,
  type DashboardStatus,
  DISPLAY_STATES,
  type DisplayState,
  displayState,
} from './model.js';
export { renderPage } from './page.js';
export { dashboardRoutes, serveDashboard } from './serve.js';
