export const DASHBOARD_HTML = '<!doctype html><title>kensa</title>';
