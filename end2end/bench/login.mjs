// Logs the benchmarks in: the user named by LIMEN_BENCH_USER / LIMEN_BENCH_PASSWORD
// (scripts/bench-live.sh makes one with `limen user add --admin`). Returns the session token,
// usable as `Authorization: Bearer` and as the `limen_session` cookie.
export async function login(base) {
  const username = process.env.LIMEN_BENCH_USER;
  const password = process.env.LIMEN_BENCH_PASSWORD;
  if (!username || !password) throw new Error('set LIMEN_BENCH_USER and LIMEN_BENCH_PASSWORD');
  const response = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 200) throw new Error(`login: ${response.status} ${await response.text()}`);
  return (await response.json()).token;
}

/** A fresh browser context carrying the session cookie. */
export async function loggedInContext(browser, base, token) {
  const context = await browser.newContext();
  await context.addCookies([{ name: 'limen_session', value: token, url: base }]);
  return context;
}
