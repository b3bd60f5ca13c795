import { describe, expect, it } from 'vitest';
import { toCsv } from './csv';

describe('toCsv', () => {
  it('quotes what needs quoting and defuses text a spreadsheet would run as a formula', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['=HYPERLINK("http://evil")', -1.5],
          ['@SUM(A1)', null],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n"\'=HYPERLINK(""http://evil"")",-1.5\r\n\'@SUM(A1),\r\n');
  });
});
