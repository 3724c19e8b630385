/** RK401: Grafana's first-start variable in the env file (high unless rekey manages it). */
import { describe, expect, it } from 'vitest';
import { grafanaEnvCheck } from '../../src/doctor/checks/grafana-env.js';
import { CONFIG, doctorStack, STRONG } from './helpers.js';

const GF = 'Gq8Wm2Xn6Lr0Ts3Vb7Hc1Jd5Fg9Ky2Ua6Eo0Ri4Tl8Nw3Mx7Qs1Cv5Bz9DhZk4Pq';

describe('doctor: Grafana first-start variable', () => {
  it('is high when the env file sets it and rekey does not manage it, info when it does, absent otherwise', async () => {
    const values = { ...STRONG, JWT_SECRET_PREVIOUS: '' };
    expect(await (await doctorStack(values)).check(grafanaEnvCheck)).toEqual([]);
    const unmanaged = await (await doctorStack({ ...values, GF_SECURITY_ADMIN_PASSWORD: GF })).check(
      grafanaEnvCheck,
    );
    expect(unmanaged.map((f) => `${f.rule} ${f.severity}`)).toEqual(['RK401 high']);
    const managedConfig = `${CONFIG}  - { key: GF_SECURITY_ADMIN_PASSWORD, type: grafana, url: "http://127.0.0.1:1" }\n`;
    const managed = await (
      await doctorStack({ ...values, GF_SECURITY_ADMIN_PASSWORD: GF }, managedConfig)
    ).check(grafanaEnvCheck);
    expect(managed.map((f) => `${f.rule} ${f.severity}`)).toEqual(['RK401 info']);
  });
});
