/** The CLI's version (`distillery --version`, and the header of a crash log). */
export const VERSION = '0.1.0';
