/** An EB API error: the aws CLI prints "An error occurred (CODE) when calling the X operation: MESSAGE". */
export class EbApiError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

export const invalidParameter = (message: string) => new EbApiError('InvalidParameterValue', message);
