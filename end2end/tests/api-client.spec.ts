import { expect, test } from '@playwright/test';
import createClient from 'openapi-fetch';
// Made from the API's description (`limen openapi`) by openapi-typescript in scripts/e2e.sh,
// which then type-checks this file against it (tsconfig.api.json): a call, a body or a field
// the description does not have fails the run before any test starts.
import type { paths } from '../generated/limen-api';
import { admin } from './accounts';
import { virshDomstate, virshHasDomain, vmName } from './helpers';

test('a client generated from the API description lists, creates, starts and deletes a VM', async ({ baseURL }) => {
  // A script logs in for a token, as the description says (no cookie jar here).
  const anonymous = createClient<paths>({ baseUrl: baseURL });
  const login = await anonymous.POST('/api/v1/auth/login', {
    body: { username: admin.username, password: admin.password },
  });
  expect(login.response.status).toBe(200);
  const api = createClient<paths>({
    baseUrl: baseURL,
    headers: { Authorization: `Bearer ${login.data!.token}` },
  });

  const name = vmName('client');
  const before = await api.GET('/api/v1/vms');
  expect(before.response.status).toBe(200);
  expect(before.data!.map((vm) => vm.name)).not.toContain(name);

  const created = await api.POST('/api/v1/vms', { body: { name, cpu: 1, memory: 64, disk_size: 1 } });
  expect(created.response.status).toBe(201);
  const uuid = created.data!.uuid;
  const listed = await api.GET('/api/v1/vms');
  expect(listed.data!.map((vm) => vm.uuid)).toContain(uuid);

  const started = await api.POST('/api/v1/vms/{uuid}/action', {
    params: { path: { uuid } },
    body: { action: 'start' },
  });
  expect(started.response.status).toBe(200);
  expect(started.data!.status).toBe('running');
  expect(virshDomstate(name)).toBe('running');
  const fetched = await api.GET('/api/v1/vms/{uuid}', { params: { path: { uuid } } });
  expect(fetched.data!.status).toBe('running');

  // A refusal is typed too: `{error, code}` with the route's codes.
  const missing = await api.GET('/api/v1/vms/{uuid}', {
    params: { path: { uuid: '00000000-0000-4000-8000-000000000000' } },
  });
  expect(missing.response.status).toBe(404);
  expect(missing.error!.code).toBe('VM_NOT_FOUND');

  const deleted = await api.DELETE('/api/v1/vms/{uuid}', { params: { path: { uuid } } });
  expect(deleted.response.status).toBe(204);
  expect(virshHasDomain(name)).toBe(false);
  const after = await api.GET('/api/v1/vms');
  expect(after.data!.map((vm) => vm.uuid)).not.toContain(uuid);
});

test('the API documentation page shows the description with Swagger UI', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('navigation').getByRole('link', { name: 'API docs' }).click();
  await expect(page).toHaveURL(/\/api\/docs$/);
  await expect(page).toHaveTitle('Limen API');
  // Rendered by Swagger UI from /api/v1/openapi.json: the title, a tag, an operation.
  await expect(page.getByRole('heading', { name: /Limen/ }).first()).toBeVisible();
  await expect(page.locator('.opblock-tag', { hasText: 'vms' }).first()).toBeVisible();
  await expect(page.getByText('/api/v1/vms/{uuid}/action').first()).toBeVisible();
  // Swagger UI is loaded by this page only: the dashboard never asks for it.
  const dashboard = await page.context().newPage();
  const requested: string[] = [];
  dashboard.on('request', (request) => requested.push(request.url()));
  await dashboard.goto('/');
  await expect(dashboard.locator('main')).toHaveAttribute('data-hydrated', 'true');
  expect(requested.filter((url) => url.includes('swagger'))).toEqual([]);
  await dashboard.close();
});
