/** rekey's version (`rekey --version`, SARIF's tool.driver.version). */
export const VERSION = '0.1.0';
